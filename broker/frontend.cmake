# Browser events: their decoder, their store and the timeline, compiled into logwire_store
# (target_sources(logwire_store PRIVATE ...)).
