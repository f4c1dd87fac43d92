"""regconv.testing"""
