"""The likeness registry: people who asked to be protected, their consent, their face
descriptors, and the matcher that finds their face in scanned media.

Safeguards by design: enrolment needs a structured consent record (method, note, the
operator's OS account, a review date) and is refused for a face that matches someone already
enrolled unless forced; a consent past its review date stops matching; there is no way to
search an arbitrary photo against the registry (only ``consentry scan`` of the operator's own
media matches); enrolment, renewal, removal and every match write an audit record; removal
deletes the descriptors and leaves only a pseudonym in stored results and the audit, and the
index is rebuilt from the database, so nothing of a removed person survives in a second copy.
"""
