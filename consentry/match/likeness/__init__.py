"""The likeness registry: people who asked to be protected, their consent, their face
descriptors, and the matcher that finds their face in scanned media.

Safeguards by design: enrolment needs a consent record; there is no way to search an
arbitrary photo against the registry (only ``consentry scan`` of the operator's own media
matches); enrolment, removal and every match write an audit record; removal deletes the
descriptors, and the index is rebuilt from the database, so nothing of a removed person
survives in a second copy.
"""
