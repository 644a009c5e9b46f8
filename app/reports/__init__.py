"""The product's domain: scan a scope of Confluence, summarise its freshness, cache the result."""
