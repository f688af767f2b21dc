/**
 * The wording the intervals tables' note gets in the tasks' output: the flag that sets the
 * resamples and the task that computes the intervals (lib/tables/interval_tables.ts describes
 * the data; the tasks name the flags).
 *
 * @module
 */
import type { IntervalNoteWording } from "../../lib/tables/interval_tables.ts";

/** {@linkcode IntervalNoteWording} naming `--resamples` and `score --ci`. */
export const INTERVALS_FLAG_WORDING: Readonly<IntervalNoteWording> = {
  resamples: "1,000 unless --resamples",
  source: "score --ci",
};
