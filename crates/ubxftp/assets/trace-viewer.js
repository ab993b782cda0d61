/* built by web/trace-viewer */
