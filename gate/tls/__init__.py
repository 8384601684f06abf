"""HTTPS on the compound's own network: ``checkpoint serve --tls`` and the CA page.

A phone's browser opens its camera only on a secure context, so a phone used as a gate
needs HTTPS even on the office laptop's Wi-Fi. Without a public name there is no public
certificate, so the server makes its own:

- :mod:`.certificates`: a local certificate authority, made once in
  ``<instance dir>/tls`` (keys 0600), and a server certificate signed by it for the
  machine's names and LAN addresses, renewed when those change or it nears its end.
  The authority is name-constrained to private addresses and local names, so a phone that
  trusts it trusts it for nothing on the internet.
- :mod:`.addresses`: the machine's host names and LAN addresses.
- :mod:`.sockets`: one port for both: a connection that starts a TLS handshake is served
  over TLS, a plain HTTP one may fetch only the CA page (everything else is redirected to
  https), which breaks the chicken-and-egg of a phone that does not trust the CA yet.
- :mod:`.views`: the CA page (``/ca``: QR, fingerprint, how to trust it on Android and
  iOS) and the CA certificate as ``.crt`` and as an iOS profile.

The production path (nginx with a real certificate) needs none of this: ``deploy/nginx``.
"""
