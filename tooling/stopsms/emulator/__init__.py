"""Local tooling: build the template's resources in an emulator and run the functions there.

Not used by the deployed functions; needs the development requirements (PyYAML, moto).
"""
