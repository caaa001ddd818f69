/* cases_names.mjs -- names, the series across rematches and replays. */
export const NAME_CASES = [];
