"""The floor of a handler's cold start: what every StopSMS handler imports from libraries at
init, because its first message needs it, and nothing of StopSMS itself.

``benchmarks/coldstart.py`` imports this module the way it imports a handler, so that the
distance between a handler and this floor is what StopSMS's own code costs.
"""

import botocore.config
import botocore.session  # noqa: F401
import phonenumbers  # noqa: F401  (every path normalises numbers)
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

# Powertools' order in the handlers: the batch utility before pydantic (see coldstart.py).
logger = Logger()
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel  # noqa: E402, F401
from pydantic import BaseModel, Json  # noqa: E402, F401
from pynamodb.models import Model  # noqa: E402, F401
