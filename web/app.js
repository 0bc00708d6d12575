// tcptrace dashboard: starts the page once core.js, connection.js and every view have loaded
// (index.html loads them in that order, deferred). A new view is a file in web/views/ and one
// <script> line in index.html's views block; core.js says what a view may do.
'use strict';

window.tcptrace.connect();
