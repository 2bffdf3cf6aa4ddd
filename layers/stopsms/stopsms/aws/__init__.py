"""AWS adapters: the clients, and the calls more than one path makes."""
