"""StopSMS: the compliance core, the data-access layer and the settings shared by every function.

Shipped as a Lambda layer (``/opt/python/stopsms``). The domain modules (phones, keywords,
encoding, mention, window, personalise, models) are pure Python and never import boto3.
"""
