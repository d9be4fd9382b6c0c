"""Read-only facts about the machine the service runs on: network, load, versions, clock.

Each reader takes its roots (``/proc``, ``/sys``) as arguments, so tests point it at a fake
tree; none of them runs a command with anything a client sent.
"""
