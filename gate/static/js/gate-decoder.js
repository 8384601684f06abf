/* The gate page's QR decoder: zxing-cpp compiled to WebAssembly (vendored zxing-wasm, served
 * by the app: static/vendor/zxing-wasm/), with the browser's BarcodeDetector and then jsQR as
 * fallbacks only when the WebAssembly module cannot load.
 *
 * window.GateDecoder:
 *   ready()            resolves to the decoder's name ("zxing-wasm" | "barcode-detector" |
 *                      "jsqr" | "none") once one is usable
 *   decode(source)     resolves to the QR text in ``source`` (a pass's first) or null.
 *                      ``source``: an ImageData, or anything drawImage takes (video,
 *                      image, canvas, ImageBitmap)
 *   decodeAll(source)  every QR text in ``source``, a pass's first
 *   name               the decoder in use (after ready())
 *
 * The wasm file is located next to the script (data-wasm-url on the script tag, else
 * /static/vendor/zxing-wasm/zxing_reader.wasm); nothing is fetched from a CDN.
 */
(function () {
  "use strict";

  /* Frames are read at full size up to 1920 px wide (a 1280x720 camera frame is): zxing-cpp
   * downscales internally where it helps, and scaling first lost hard photos in the bench. */
  var MAX_FRAME_WIDTH = 1920;
  var script = document.currentScript;
  var wasmUrl = (script && script.dataset.wasmUrl) ||
    "/static/vendor/zxing-wasm/zxing_reader.wasm";
  var canvas = document.createElement("canvas");
  var context2d = canvas.getContext("2d", {willReadFrequently: true});
  /* Several symbols per frame: a second code in view (a neighbour's card, a double QR) must
   * not hide the one that is a pass. */
  var zxingOptions = {formats: ["QRCode"], maxNumberOfSymbols: 4, tryHarder: true};
  var decoder = {name: "none", decode: function () { return Promise.resolve([]); }};
  var readiness = null;

  function imageDataOf(source) {
    if (typeof ImageData !== "undefined" && source instanceof ImageData) {
      return source;
    }
    var width = source.videoWidth || source.naturalWidth || source.width;
    var height = source.videoHeight || source.naturalHeight || source.height;
    if (!width || !height) {
      return null;
    }
    var scale = Math.min(1, MAX_FRAME_WIDTH / width);
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    context2d.drawImage(source, 0, 0, canvas.width, canvas.height);
    return context2d.getImageData(0, 0, canvas.width, canvas.height);
  }

  function zxing() {
    var module = window.ZXingWASM;
    if (!module || typeof module.prepareZXingModule !== "function") {
      return Promise.reject(new Error("zxing-wasm script missing"));
    }
    var prepared = module.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) {
          return /\.wasm$/.test(path) ? wasmUrl : prefix + path;
        }
      },
      fireImmediately: true
    });
    return Promise.resolve(prepared).then(function () {
      return {
        name: "zxing-wasm",
        decode: function (source) {
          var image = imageDataOf(source);
          if (!image) {
            return Promise.resolve([]);
          }
          return module.readBarcodes(image, zxingOptions).then(function (results) {
            return results.filter(function (result) {
              return result.isValid && result.text;
            }).map(function (result) {
              return result.text;
            });
          });
        }
      };
    });
  }

  function barcodeDetector() {
    if (!("BarcodeDetector" in window)) {
      return Promise.reject(new Error("no BarcodeDetector"));
    }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (formats.indexOf("qr_code") === -1) {
        throw new Error("BarcodeDetector without QR");
      }
      var detector = new window.BarcodeDetector({formats: ["qr_code"]});
      return {
        name: "barcode-detector",
        decode: function (source) {
          return detector.detect(source).then(function (codes) {
            return codes.map(function (code) { return code.rawValue; });
          });
        }
      };
    });
  }

  function jsqr() {
    if (typeof window.jsQR !== "function") {
      return Promise.reject(new Error("no jsQR"));
    }
    return Promise.resolve({
      name: "jsqr",
      decode: function (source) {
        var image = imageDataOf(source);
        if (!image) {
          return Promise.resolve([]);
        }
        var found = window.jsQR(image.data, image.width, image.height);
        return Promise.resolve(found ? [found.data] : []);
      }
    });
  }

  function ready() {
    if (!readiness) {
      readiness = zxing()
        .catch(function (error) {
          if (window.console) {
            window.console.warn("zxing-wasm unavailable, falling back:", error);
          }
          return barcodeDetector();
        })
        .catch(jsqr)
        .catch(function () { return decoder; })
        .then(function (chosen) {
          decoder = chosen;
          window.GateDecoder.name = chosen.name;
          return chosen.name;
        });
    }
    return readiness;
  }

  /* Every QR text in ``source``, the likely pass first (a checkpoint prefix: "CP1:" pass,
   * "CS1:" screen code, "SV1:" supervisor card). */
  function decodeAll(source) {
    return ready().then(function () {
      return decoder.decode(source);
    }).then(function (texts) {
      var ours = texts.filter(function (text) { return /^C[PS]1:|^SV1:/.test(text); });
      return ours.concat(texts.filter(function (text) { return ours.indexOf(text) === -1; }));
    }).catch(function () {
      return [];
    });
  }

  window.GateDecoder = {
    name: "none",
    ready: ready,
    decodeAll: decodeAll,
    decode: function (source) {
      return decodeAll(source).then(function (texts) {
        return texts.length ? texts[0] : null;
      });
    }
  };
})();
