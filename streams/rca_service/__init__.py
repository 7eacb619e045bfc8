"""The ``aiops rca`` worker: incident versions -> ranked root causes + explanation.

:mod:`history` reads an incident's members and surroundings from ClickHouse,
:mod:`contexts` turns them into a :class:`streams.rca.IncidentContext`, :mod:`report`
builds the ``RcaReport`` and :mod:`worker` runs the Kafka loop.
"""
