// observe's services and summary modes over the store (issue 6): filled in with them.
