"""The inbound path: replies to our numbers (STOP, START, HELP) and the answers sent back."""
