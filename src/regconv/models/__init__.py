"""regconv.models"""
