"""Instrumentation of the OpenAI and Anthropic SDK clients (placeholder; see issue 3)."""


def attach(client, **kwargs):
    raise NotImplementedError("attach() is not implemented yet")


def detach(client):
    raise NotImplementedError("detach() is not implemented yet")
