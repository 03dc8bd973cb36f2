/* What the kiosk's modules share: the page, its settings and the rotation's state. */

export const body = document.body;
export const cfg = body.dataset;
export const preview = cfg.eventsUrl === ""; // a moderator's preview: no events, heartbeats or caching
export const startedAt = Date.now();

export const state = {
  stories: new Map(),   // slug -> story, as last received
  cycle: [],            // slugs of one cycle, from the server
  queue: [],            // what is left of the current cycle
  screen: {},           // the screen's settings, from the server
  etag: null,
  current: null,        // slug on screen
  onScreen: null,       // the story object on screen, to notice edits
  preparing: null,      // {slug, keep} while a slide's photo decodes
  front: 0,             // index of the visible slide element
  token: 0,             // bumps on every show(), to drop stale renders
  prepareMs: 0,         // how long a slide takes to prepare, to start that much early
  shown: {},            // slug -> times shown since the last heartbeat
  slideCount: 0,
  events: null,
  retryMs: 1000,
  online: true,
  blank: false,
  clockOffset: 0,       // server time minus local time, for grouped screens
  clockPrecise: false,
  groupSlot: null,      // the time slot on screen, for grouped screens
  fetching: null,       // the playlist request in flight
  fetchAgain: false,
  reloading: false
};

// Every timer the kiosk uses, so that none is ever started twice.
export const timers = { slide: 0, retry: 0, notice: 0, again: 0, beat: 0 };
