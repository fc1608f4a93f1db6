"""privlink: publish a private service over AWS PrivateLink, across accounts and regions."""

__version__ = "0.1.0"
