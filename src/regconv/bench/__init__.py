"""regconv.bench"""
