-- Write epoch: every write transaction takes the next value once it holds
-- its advisory locks, so a Store can tell that no other session began a
-- write transaction since its own previous one (Tx.Undisturbed).
-- Sequences are not transactional: a rolled-back writer still counts, which
-- only makes the answer more cautious.

CREATE SEQUENCE write_epoch;
