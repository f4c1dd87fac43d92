"""regconv.nn"""
