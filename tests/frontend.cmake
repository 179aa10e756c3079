# Browser events, their store and the timeline: unit tests.
