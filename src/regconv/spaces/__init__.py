"""regconv.spaces"""
