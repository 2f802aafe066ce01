"""Evidence reports: one item's record for a takedown request or a police report, as PDF and
HTML (``consentry report evidence``, the review UI's item page). ``gather`` reads what the
store holds about the item, ``content`` turns it into the report's sections (one content for
both formats), ``pdf`` and ``html`` lay them out. The audit rows that concern the item are
listed with their chain hashes and the head of the chain, so a third party can check the
report against ``consentry audit verify`` and ``consentry audit list --json``
(docs/evidence.md). No media unless a blurred thumbnail is asked for."""
