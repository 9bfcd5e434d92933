"""The crowd: how far each volunteer's votes are trusted (estimated each round, `reliability`),
staff's exclusions (`exclusions`), and the reads that count votes with those weights
(`crowd_selectors`). The maths is mlworker/reliability.py (NumPy)."""
