"""regconv.graph"""
