// /api/docs: Swagger UI (static/vendor/swagger-ui) over the server's own /api/openapi.json. No online
// validator badge (validatorUrl: null): the page talks to this server only.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    docExpansion: "none",
    filter: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
