// The timeline: see below.
