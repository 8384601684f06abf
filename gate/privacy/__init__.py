"""Letting the data go: retention per community, purges that keep the log verifiable, a
household's data export for an access request, and the end of a lockdown.

- :mod:`gate.privacy.models`: the retention setting and the lockdown's end, per community.
- :mod:`gate.privacy.retention`: setting retention; ending a lockdown (passes and devices
  revoked, a final signed checkpoint, the purge scheduled).
- :mod:`gate.privacy.purge`: the purge. The log is closed by a signed checkpoint first; each
  gate's purged prefix is replaced by a :class:`gate.verification.models.ChainBase`, so
  verification starts from that checkpoint afterwards.
- :mod:`gate.privacy.export`: everything stored about one household, as a workbook.

Every operation records its own audit event (counts, never the data).
"""
