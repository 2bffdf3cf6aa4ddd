"""The rules of the domain, pure Python: no AWS call, no I/O, no clock."""
