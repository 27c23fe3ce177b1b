"""Many FAQs in one service: each a named resource with its own collections in the store, its
own services (search, rule, versions, logs, budgets, batcher) and its own keys."""
