"""Privacy: per-customer data export and erasure (data protection: regulation seed 000,
section 3.5).

Export: one JSON document of everything the bot holds about a group and its customer: the
customer profile, the group, its members, every message in and out (and the bot's own outbox),
the commands typed there, interactions, orders with their items, payments, incidents, care
logs, ratings, SLA clocks and the group's audit entries. Staff discipline records (violations,
SLA events) and timers are internal to the company and are not part of it. The document is
streamed page by page from short sessions, so a group of 100k messages needs one page in memory
and never holds the database (on SQLite a transaction is the write lock).

Erasure, policy. Erased or anonymised (never to be recovered; the database keeps no copy):
* the customer row: name becomes "Khách hàng đã xoá #<id>", every other profile field is cleared
  except the customer group (VIP / wholesale / retail), which reports count;
* the text and attachments of every message the customer side wrote in the group, in the
  transcript and in the stored raw webhook events;
* interaction notes and care-log contents about the customer, incident descriptions, photos and
  resolution notes, payment notes: replaced by the erased marker; so are the staff alerts that
  quote the customer's words (SLA reminders and alerts, detected incidents, low ratings);
* where the kept text still holds them, the customer's name, phone number, birthday and founding
  day (exact matches of four characters or more) and the erased notes are masked: in staff and
  bot messages, the bot's outbox (1:1 alerts included), the commands typed in the group (so
  `/ghichu goi <note>` keeps only `/ghichu goi [đã xoá]`), payment rejection reasons, the raw
  webhook events of staff messages, and the JSON details of the group's audit entries,
  violations, SLA events and reminders; the personal fields of those audit entries (notes,
  texts, and the profile values of customer.*) are replaced by the marker.
Kept, because accounting and the regulation's own records need them: payments (amount, kind,
method, status, who decided and when), orders and their items, SLA clocks, ratings (the score;
the customer's answer is a message and is erased with them), care and interaction dates and
feedback codes, incident types and times, group membership (Zalo ids), staff messages (masked
as above), and the audit log itself. The erasure is audited as "customer_erased" with counts
only, never the erased content. It covers the group it is run for; a customer bound to several
groups needs it in each. Backups keep what they held until they expire. Messages the customer
writes after the erasure are recorded again as usual.

Erasure, how it runs. The confirmation only records it (an Erasure row, in the command's
transaction); a worker (Runtime.erase_pending) then runs its STEPS, each in chunks of CHUNK
rows, one short transaction per chunk: a group of 100k messages never holds the database (on
SQLite, its one write lock) for longer than a chunk. The step reached and the counts so far are
saved in each chunk's transaction, and every step only changes what is not erased yet, so an
erasure cut short (a crash, a shutdown) resumes on the next run and counts each row once. The
profile and the notes, whose values the earlier steps mask, are erased by the last step, in the
transaction that also writes the "customer_erased" audit entry and the announcements: both
exactly once. One process runs an erasure at a time (a lease on the row, renewed at each chunk).
"""
