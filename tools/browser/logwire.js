// logwire.js: the browser script. (Being written: see tests/browser.)
