"""A local stand-in for a Confluence Cloud site that speaks the real Connect protocol.

See docs/emulator.md.
"""
