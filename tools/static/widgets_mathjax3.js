// ipywidgets 8 typesets widget labels with the MathJax 2 call MathJax.Hub.Queue;
// the book loads MathJax 3, which has no Hub, so every widget description threw
// "Cannot read properties of undefined (reading 'Queue')". Forward those calls to
// MathJax 3. Loaded with `defer` after MathJax (tools/offline_assets.py).
(function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || !mj.startup) {
    return;  // no MathJax on this page, or MathJax 2
  }
  mj.Hub = {
    Queue: function (command) {  // ["Typeset", MathJax.Hub, element]
      var element = command && command[2];
      if (element) {
        mj.startup.promise.then(function () { return mj.typesetPromise([element]); });
      }
    }
  };
})();
