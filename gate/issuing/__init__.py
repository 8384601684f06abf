"""Issuing household passes: signing, re-issue, and printing cards."""
