"""The community's rules as a feature: trying proposed rules on past crossings (dry run).

Stored rule versions and saving them live with the community (``gate.community``); this
package sits above communities, households and crossings because a dry run reads all three.
"""
