"""regconv.cli"""
