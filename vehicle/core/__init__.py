"""The drive process: camera, preprocessing, policy session, action table, governor, PWM.

Everything here may run in the process that owns the outputs, so nothing here imports the
console, parses an upload, checks or converts a model (DESIGN.md section 1). A test holds
this package to that.
"""
