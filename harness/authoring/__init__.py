"""The authoring wing: what helps a person write a drill.

``scaffold`` (``drill init``), ``describe`` (parameter descriptions of actions and faults) and ``reference``
(the source of the generated reference pages).
"""
