# Floors, budgets and the hash-chained ledger arrive with the fair-pay issue.
