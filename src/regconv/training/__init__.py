"""regconv.training"""
