"""The conversation core: neutral message types and the collaborators of the conversation service."""
