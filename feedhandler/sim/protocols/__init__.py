"""The simulator's own wire protocols (``simjson``, the neutral JSON protocol).

An exchange's protocol lives in the exchange's folder (``feedhandler/exchanges/<name>/sim_protocol.py``),
registers itself with :func:`feedhandler.sim.protocol.register_protocol`, and is found through the exchange
registry (``register_exchange(..., sim_protocol=...)``) on first use by
:func:`feedhandler.sim.protocol.create_protocol`.
"""
