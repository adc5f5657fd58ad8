"""Wire protocols of the simulator, one module per protocol, each registered by name.

``simjson`` is the neutral JSON protocol; exchange protocols (``mexc``, ``gateio``, ``binance``) plug in
as sibling modules registered with :func:`feedhandler.sim.protocol.register_protocol` and are imported
on first use by :func:`feedhandler.sim.protocol.create_protocol`.
"""
