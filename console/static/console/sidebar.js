// The console's top bar already links every page a role uses, so Django's app sidebar starts
// closed (its toggle still opens it, and the choice is remembered): at 1400 px a camera list
// or the audit trail then shows every column. Set before nav_sidebar.js reads it.
(function () {
  "use strict";
  try {
    if (localStorage.getItem("django.admin.navSidebarIsOpen") === null) {
      localStorage.setItem("django.admin.navSidebarIsOpen", "false");
    }
  } catch (e) { /* storage disabled: Django's default (open) */ }
})();
