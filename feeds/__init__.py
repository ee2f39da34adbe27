"""Feeds: the curriculum, arXiv papers and the lab's drop folder, polled by ``feeds.worker.FeedWorker``."""
