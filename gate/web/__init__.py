"""Web plumbing shared by every page: login and account pages, roles, locale, security
headers, error pages, formatting, and the request as the unit of work."""
