"""Read side: session search, timelines, error groups."""
