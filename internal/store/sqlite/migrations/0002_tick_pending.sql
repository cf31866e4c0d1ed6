-- tick_pending: an incremental build moved the cursor but has not yet run
-- its closing tick (builds.md §3); the next build finishes that tick even
-- when nothing else is pending.
ALTER TABLE build_state ADD COLUMN tick_pending INTEGER NOT NULL DEFAULT 0 CHECK (tick_pending IN (0, 1));
